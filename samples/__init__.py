"""Sample workflows."""
