"""PostgreSQL repositories, bound to the connection of one unit of work's transaction."""

from writemodel.adapters.postgres.catalog import PgMeals
from writemodel.adapters.postgres.inventory import PgStockLevels
from writemodel.adapters.postgres.locations import PgLocations
from writemodel.adapters.postgres.ordering import PgCustomers, PgOrders
from writemodel.adapters.postgres.subscriptions import PgPlans, PgSubscriptions

__all__ = ["PgCustomers", "PgLocations", "PgMeals", "PgOrders", "PgPlans", "PgStockLevels", "PgSubscriptions"]
