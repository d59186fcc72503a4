// Behaviour that needs JavaScript; every page works without it.
