"""integrity-gateway: the merchant gateway, an HTTP/JSON API in front of integrity-server.

It verifies the end user's token (signed by the user's platform), says to the service over
gRPC, with its own credential, whom it acts for, and maps the service's answers and errors
to JSON and RFC 9457 problem details. It holds no data of its own.
"""
