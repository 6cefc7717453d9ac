from shop.cart import Cart, GiftCart
from shop.pricing import bulk_discount, line_total


def test_bulk_discount():
    assert bulk_discount(9) == 0.0 and bulk_discount(10) == 0.1 and bulk_discount(50) == 0.2


def test_totals():
    cart = Cart()
    cart.add("pen", 1.0, 10)
    assert cart.total() == line_total(1.0, 10) == 10.8
    gift = GiftCart(5.0)
    gift.add("pen", 1.0, 10)
    assert gift.total() == 5.8
