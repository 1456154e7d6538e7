"""API resource: customers (search by phone, name or segment; read; create; update)."""
from __future__ import annotations

from typing import Any

from engine.api import schemas as s
from engine.api.errors import ApiError, from_store, not_found
from engine.api.operation import Call, Operation, Param
from engine.store.customer_fields import clean_field
from engine.store.errors import InvalidPhoneNumber, StoreError
from engine.store.phones import normalize
from engine.store.repos.customers import CustomerRepository

CUSTOMER_ID = Param("customer_id", "path", s.ID)


def search(call: Call) -> Any:
    q = call.query
    repo = CustomerRepository(call.store)
    limit, offset = q.get("limit", 50), q.get("offset", 0)
    if "phone" in q:
        found = repo.find_by_phone(q["phone"])
        items = [found] if found is not None and _matches(found, q) and offset == 0 else []
    else:
        items = repo.search(q.get("name"), q.get("segment"), limit, offset)
    return {"items": [s.plain(c) for c in items], "limit": limit, "offset": offset}


def _matches(customer: Any, q: dict[str, Any]) -> bool:
    if q.get("segment") and customer.segment.value != q["segment"]:
        return False
    return not q.get("name") or q["name"].strip().lower() in customer.name.lower()


def read(call: Call) -> Any:
    found = CustomerRepository(call.store).get(call.path["customer_id"])
    if found is None:
        raise not_found(f"customer {call.path['customer_id']}")
    return s.plain(found)


def _fields(body: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in body.items() if k != "phones"}
    for key, value in fields.items():
        try:
            clean_field(key, value)
        except ValueError as exc:
            raise ApiError(422, "invalid", str(exc), f"$.{key}") from None
    return fields


def _save(call: Call, phones: list[str], fields: dict[str, Any], new_phones: list[str]) -> Any:
    repo = CustomerRepository(call.store)
    for index, number in enumerate(new_phones):
        try:
            normalize(number, call.store.region)
        except InvalidPhoneNumber as exc:
            raise ApiError(422, "invalid", str(exc), f"$.phones[{index}]") from None
    try:
        return repo.upsert(phones, at=call.now, **fields)
    except StoreError as exc:
        raise from_store(exc, "$.phones") from None
    except ValueError as exc:
        raise ApiError(422, "invalid", str(exc)) from None


def create(call: Call) -> Any:
    body = call.body
    fields = _fields(body)
    repo = CustomerRepository(call.store)
    for index, number in enumerate(body["phones"]):
        existing = repo.find_by_phone(number)
        if existing is not None:
            raise ApiError(409, "conflict", f"the number belongs to customer {existing.id}; update that one",
                           f"$.phones[{index}]")
    return s.plain(_save(call, body["phones"], fields, body["phones"])), 201


def update(call: Call) -> Any:
    repo = CustomerRepository(call.store)
    current = repo.get(call.path["customer_id"])
    if current is None:
        raise not_found(f"customer {call.path['customer_id']}")
    fields = _fields(call.body)
    added = list(call.body.get("phones") or [])
    for index, number in enumerate(added):
        owner = repo.find_by_phone(number)
        if owner is not None and owner.id != current.id:
            raise ApiError(409, "conflict", f"the number belongs to customer {owner.id}", f"$.phones[{index}]")
    return s.plain(_save(call, [*current.phones, *added], fields, added))


OPERATIONS = (
    Operation("GET", "/customers", "searchCustomers", "customers:read",
              "Find customers by phone number (any format), part of the name, or segment.", search,
              s.page_of(s.CUSTOMER), params=(
                  Param("phone", "query", s.PHONE, "A number in any format a caller ID or a person writes it."),
                  Param("name", "query", s.text(200, minLength=1), "Part of the name, any case."),
                  Param("segment", "query", {"type": "string", "enum": s.SEGMENTS}),
                  Param("limit", "query", s.LIMIT), Param("offset", "query", s.OFFSET)), tag="customers"),
    Operation("POST", "/customers", "createCustomer", "customers:write", "Create a customer.", create, s.CUSTOMER,
              body=s.CUSTOMER_CREATE, status=201, tag="customers"),
    Operation("GET", "/customers/{customer_id}", "getCustomer", "customers:read", "One customer.", read, s.CUSTOMER,
              params=(CUSTOMER_ID,), tag="customers"),
    Operation("PATCH", "/customers/{customer_id}", "updateCustomer", "customers:write",
              "Change fields of a customer (fields left out stay as they are; phones are added).", update,
              s.CUSTOMER, params=(CUSTOMER_ID,), body=s.CUSTOMER_UPDATE, tag="customers"),
)
