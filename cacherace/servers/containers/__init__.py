"""Servers in Docker containers: the provider, its servers, and the images it runs
(pinned public ones, or ones built from this machine's servers)."""

from .provider import ContainerProvider, container_network, docker_client, probe_containers
from .server import ContainerPostgres, ContainerRedis, docker_errors

__all__ = [
    "ContainerPostgres",
    "ContainerProvider",
    "ContainerRedis",
    "container_network",
    "docker_client",
    "docker_errors",
    "probe_containers",
]
