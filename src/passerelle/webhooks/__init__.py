"""Delivery-receipt callbacks: signed HTTP requests to the customer's URL, retried."""
