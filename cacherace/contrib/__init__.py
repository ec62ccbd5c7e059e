"""Recipes: real third-party caching libraries, checked unmodified.

Each recipe is a strategy of a few lines that uses a library the way its
documentation says to, on the client's own servers: dogpile.cache
(:mod:`cacherace.contrib.dogpile`), Flask-Caching on cachelib's RedisCache
(:mod:`cacherace.contrib.flask_caching`), django-cacheops on the Django ORM
(:mod:`cacherace.contrib.django_cacheops`). Install the libraries with
``pip install 'cacherace[libraries]'`` and check a recipe like any strategy::

    cacherace verify --strategy cacherace.contrib.dogpile:DogpileLocked

A recipe builds its library's own clients (with the library's own
``decode_responses``) from the connection details of the client the harness
hands it (:func:`redis_options`), one set per client: a client models one
application process, and the connections it opens are its own (a client crash
closes them). None of them defines ``peek_cache``: the harness reads the settled
cache through the recipe's own ``read``, so no envelope needs decoding.
"""

from cacherace.contrib._connect import pg_options, redis_options

__all__ = ["pg_options", "redis_options"]
