"""Exports Amazon Connect current user data (GetCurrentUserData) to S3 and CloudWatch EMF."""
