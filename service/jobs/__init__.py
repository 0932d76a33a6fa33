"""Background loops the server runs beside the API: each drives a use case on a schedule."""
