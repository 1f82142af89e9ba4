"""Accounts: users, their password hashes and their tokens (see ``docs/security.md``)."""
