"""Staff sign-in (docs/OPERATIONS.md, "Staff sign-in"): the admin site that asks for a second
factor, who must give one, and the address django-axes counts failed passwords against."""
