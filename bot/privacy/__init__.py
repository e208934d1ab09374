"""Privacy: /mydata (what every capability stores about a user) and /forget (delete it all, after a yes).

Offers `PrivacyService` (service.py); the data itself is asked of every capability through `bot.database`.
"""
