from __future__ import annotations

from uuid import UUID

import psycopg
from psycopg.rows import DictRow

from farmacy.vocabulary import LocationKind, LocationStatus
from writemodel.adapters.postgres.sql import LOCK_CLAUSE, Conn, fetch_later, fetch_row
from writemodel.domain.locations import Location, NewLocation
from writemodel.repositories import DuplicateKey, Later, Lock

COLUMNS = "id, code, name, kind, address, city, latitude, longitude, status, version, created_at, updated_at"


def location(row: DictRow) -> Location:
    return Location(**{**row, "kind": LocationKind(row["kind"]), "status": LocationStatus(row["status"])})


class PgLocations:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def add(self, new: NewLocation) -> Location:
        try:
            row = await fetch_row(
                self.conn,
                f"""INSERT INTO inventory.locations (code, name, kind, address, city, latitude, longitude, status)
                    VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING {COLUMNS}""",
                [
                    new.code,
                    new.name,
                    new.kind.value,
                    new.address,
                    new.city,
                    new.latitude,
                    new.longitude,
                    new.status.value,
                ],
            )
        except psycopg.errors.UniqueViolation as exc:
            raise DuplicateKey(new.code) from exc
        return location(row)

    async def get(self, location_id: UUID, lock: Lock = Lock.NONE) -> Location | None:
        return await (await self.get_later(location_id, lock))()

    async def get_later(self, location_id: UUID, lock: Lock = Lock.NONE) -> Later[Location | None]:
        row = await fetch_later(
            self.conn, f"SELECT {COLUMNS} FROM inventory.locations WHERE id = %s{LOCK_CLAUSE[lock]}", [location_id]
        )

        async def result() -> Location | None:
            found = await row()
            return location(found) if found else None

        return result

    async def save(self, loc: Location) -> Location:
        row = await fetch_row(
            self.conn,
            f"""UPDATE inventory.locations
                   SET name = %s, address = %s, city = %s, latitude = %s, longitude = %s, status = %s,
                       version = version + 1, updated_at = now()
                 WHERE id = %s RETURNING {COLUMNS}""",
            [loc.name, loc.address, loc.city, loc.latitude, loc.longitude, loc.status.value, loc.id],
        )
        return location(row)
