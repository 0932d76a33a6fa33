"""EligibilityService.CheckEligibility over gRPC against a no-op grpc.aio baseline.

Run `.venv/bin/python -m bench.eligibility --help`; bench/README.md explains the method.
"""
