"""A tiny shop: prices, carts, orders and notifications."""
