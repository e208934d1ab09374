"""Group etiquette: admins' settings, quiet hours, answer cooldowns and flood limits.

Offers `SettingsService` (settings.py), `Throttle` and `Limits` (throttle.py), `quiet_until` (quiet.py), `GroupStore`.
"""
