"""The route table: every API operation, in the order the OpenAPI document lists them."""
from __future__ import annotations

from engine.api import calls, campaigns, customers, floor, lists, reports
from engine.api.operation import Operation

PREFIX = "/api/v1"
OPERATIONS: tuple[Operation, ...] = (*customers.OPERATIONS, *calls.OPERATIONS, *floor.OPERATIONS,
                                     *campaigns.OPERATIONS, *lists.OPERATIONS, *reports.OPERATIONS)
