"""The SQL store: models, migrations, repositories, customer import and screen-pop (see docs/store.md)."""
