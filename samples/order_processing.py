"""The order workflow from the AWS Lambda durable functions .NET SDK README, as a replayflow generator.

Reserve inventory, charge the payment, wait two hours for the warehouse, then ship. The three services
are small in-process fakes; in a real deployment they would be HTTP APIs called from the steps. Run it
locally (the two-hour wait is skipped by the local service's virtual clock)::

    replayflow run samples.order_processing:process_order --input '{"id": "o-1001", ...}'
"""

from __future__ import annotations

import dataclasses
import decimal
import itertools
from collections.abc import Generator
from typing import Any

import replayflow
from replayflow import DurableContext, Operation, RetryPresets


@dataclasses.dataclass
class Reservation:
    reservation_id: str
    skus: list[str]


@dataclasses.dataclass
class Payment:
    payment_id: str
    amount: decimal.Decimal


@dataclasses.dataclass
class Shipment:
    tracking_number: str
    carrier: str


class InventoryService:
    """Holds stock per SKU; reserving takes items out of stock."""

    def __init__(self, stock: dict[str, int]) -> None:
        self.stock = dict(stock)
        self._ids = itertools.count(1)

    def reserve(self, items: list[dict[str, Any]]) -> Reservation:
        for item in items:
            if self.stock.get(item["sku"], 0) < item["quantity"]:
                raise LookupError(f"not enough {item['sku']} in stock")
        for item in items:
            self.stock[item["sku"]] -= item["quantity"]
        return Reservation(f"res-{next(self._ids)}", [item["sku"] for item in items])


class PaymentService:
    """Charges cards; a card number ending in 0000 is declined."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.charged: list[Payment] = []

    def charge(self, card: str, amount: decimal.Decimal) -> Payment:
        if card.endswith("0000"):
            raise PermissionError("card declined")
        payment = Payment(f"pay-{next(self._ids)}", amount)
        self.charged.append(payment)
        return payment


class ShippingService:
    """Books a carrier for a reservation."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def ship(self, reservation: Reservation, address: str) -> Shipment:
        return Shipment(f"1Z-{reservation.reservation_id}-{next(self._ids):04d}", "UPS")


INVENTORY = InventoryService({"BOOK-1": 10, "MUG-2": 5})
PAYMENTS = PaymentService()
SHIPPING = ShippingService()


def reserve_inventory(items: list[dict[str, Any]]) -> Reservation:
    return INVENTORY.reserve(items)


def process_payment(card: str, total: str) -> Payment:
    return PAYMENTS.charge(card, decimal.Decimal(total))


def confirm_shipment(reservation: Reservation, address: str) -> Shipment:
    return SHIPPING.ship(reservation, address)


@replayflow.durable
def process_order(order: dict[str, Any], ctx: DurableContext) -> Generator[Operation[Any], Any, dict[str, Any]]:
    """Reserve, charge, wait for the warehouse, ship."""
    reservation = yield from ctx.step(reserve_inventory, order["items"], name="reserve-inventory")
    payment = yield from ctx.step(
        process_payment, order["card"], order["total"], name="process-payment", retry=RetryPresets.transient()
    )
    ctx.logger.info("order %s paid with %s", order["id"], payment.payment_id)
    yield ctx.wait(hours=2, name="warehouse-processing")
    shipment = yield from ctx.step(confirm_shipment, reservation, order["address"], name="confirm-shipment")
    return {
        "order": order["id"],
        "reservation": reservation.reservation_id,
        "payment": payment.payment_id,
        "charged": str(payment.amount),
        "tracking": shipment.tracking_number,
    }


SAMPLE_ORDER = {
    "id": "o-1001",
    "items": [{"sku": "BOOK-1", "quantity": 2}, {"sku": "MUG-2", "quantity": 1}],
    "card": "4111111111111111",
    "total": "42.50",
    "address": "1 Main St, Springfield",
}
