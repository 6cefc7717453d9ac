"""Orders kept in memory, with a notifier that retries."""

import time

from shop.cart import Cart
from shop.config import MAX_RETRIES


class OrderStore:
    def __init__(self):
        self.orders = {}

    def place(self, order_id, cart: Cart):
        self.orders[order_id] = cart.total()
        return self.orders[order_id]

    def find(self, order_id):
        return self.orders.get(order_id)


def notify(send, message):
    """Call send(message), retrying up to MAX_RETRIES times on ConnectionError."""
    for attempt in range(MAX_RETRIES):
        try:
            return send(message)
        except ConnectionError:
            time.sleep(0.1 * 2**attempt)
    raise ConnectionError(f"gave up after {MAX_RETRIES} attempts")
