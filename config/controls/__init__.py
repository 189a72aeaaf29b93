"""Changes to controls need two people (docs/OPERATIONS.md, "Changes to controls").

A change to a risk rule, a channel's settings, the blocklist, a beat schedule or a group's
membership made in the admin becomes a ``ChangeProposal``; a finance supervisor (or a
superuser) other than its author applies or rejects it. The database keeps the history of
every control and proposal (django-pghistory), with the actor and the request.
"""
