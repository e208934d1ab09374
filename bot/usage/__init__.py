"""Usage statistics for maintainers: active users and chats (pseudonymous) and daily counters.

Offers `UsageStore` (store.py), used by `img-advisor stats`.
"""
