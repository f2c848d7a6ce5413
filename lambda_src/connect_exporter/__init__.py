"""Exports Amazon Connect current user data (GetCurrentUserData) to S3 and CloudWatch EMF."""

__version__ = "0.1.0"
