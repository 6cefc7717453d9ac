"""A shopping cart."""

from shop.pricing import line_total


class Cart:
    def __init__(self):
        self.lines = []

    def add(self, sku, unit_price, quantity=1):
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        self.lines.append((sku, unit_price, quantity))

    def total(self):
        return sum(line_total(price, qty) for _, price, qty in self.lines)


class GiftCart(Cart):
    """A cart whose total is paid by a gift card first."""

    def __init__(self, balance):
        super().__init__()
        self.balance = balance

    def total(self):
        return round(max(0.0, super().total() - self.balance), 2)
