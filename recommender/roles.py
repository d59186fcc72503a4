"""The three roles of the service, each a Django group of the same name."""

CLINICIAN = "clinician"
NURSE = "nurse"
ADMIN = "admin"
ROLES = (CLINICIAN, NURSE, ADMIN)


def has_role(user, *roles: str) -> bool:
    """True for a superuser, or a user in one of the named groups (the groups are cached per request)."""
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    names = getattr(user, "_role_names", None)
    if names is None:
        names = set(user.groups.values_list("name", flat=True))
        user._role_names = names
    return bool(names.intersection(roles))
