"""Driver interception: redis-py and psycopg calls become steps; what a call is, as data."""
