"""Prices with tax and quantity discounts."""

from shop.config import TAX_RATE


def with_tax(amount):
    return round(amount * (1 + TAX_RATE), 2)


def bulk_discount(quantity):
    """10% off from 10 items, 20% off from 50."""
    if quantity >= 50:
        return 0.2
    if quantity >= 10:
        return 0.1
    return 0.0


def line_total(unit_price, quantity):
    discount = bulk_discount(quantity)
    return with_tax(unit_price * quantity * (1 - discount))
