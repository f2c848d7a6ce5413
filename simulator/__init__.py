"""A local Amazon Connect: the GetCurrentUserData and List APIs over the real rest-json wire protocol.

Dev and test tool only (never part of the Lambda package): the real boto3 client talks to it through
AWS_ENDPOINT_URL_CONNECT, so the exporter runs, is tested and is benchmarked with no AWS account.
"""
