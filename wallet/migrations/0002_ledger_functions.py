"""Install the posting functions of wallet/sql/ledger_functions_v1.sql.

A later change to the functions adds a new versioned file and migration, so this migration
always installs what it installed the first time.
"""

from pathlib import Path

from django.db import migrations

SQL = (Path(__file__).resolve().parent.parent / "sql" / "ledger_functions_v1.sql").read_text()

DROP = """
DROP FUNCTION IF EXISTS wallet_hold_release(bigint);
DROP FUNCTION IF EXISTS wallet_hold_capture(bigint, text, text, text, text, bigint[], numeric[]);
DROP FUNCTION IF EXISTS wallet_hold_place(text, bigint, numeric, text);
DROP FUNCTION IF EXISTS wallet_transfer_post(text, text, text, text, text, bigint[], numeric[]);
DROP FUNCTION IF EXISTS wallet_apply_legs(bigint, timestamptz, bigint[], numeric[], bigint, numeric);
"""


class Migration(migrations.Migration):
    dependencies = [("wallet", "0001_initial")]

    operations = [migrations.RunSQL(SQL, reverse_sql=DROP)]
