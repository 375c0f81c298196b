"""Deploying on AWS: the CloudFormation stack and the wheelhouse encoder instances install from."""
