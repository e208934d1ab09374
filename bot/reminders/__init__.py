"""Reminders: reading times and zones, storing reminders, and the scheduler that delivers them.

Offers `ReminderService` (service.py), `Scheduler` (scheduler.py), `ReminderStore` (store.py), `parse_reminder` (when.py).
"""
