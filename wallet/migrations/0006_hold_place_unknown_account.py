"""Install wallet/sql/ledger_functions_v2.sql; reversing puts v1's wallet_hold_place back."""

import re
from pathlib import Path

from django.db import migrations

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
V2 = (SQL_DIR / "ledger_functions_v2.sql").read_text()
V1_HOLD_PLACE = re.search(
    r"CREATE OR REPLACE FUNCTION wallet_hold_place\(.*?\n\$\$;\n",
    (SQL_DIR / "ledger_functions_v1.sql").read_text(),
    re.DOTALL,
).group(0)


class Migration(migrations.Migration):
    dependencies = [("wallet", "0005_nightly_ledger_audit_schedule")]

    operations = [migrations.RunSQL(V2, reverse_sql=V1_HOLD_PLACE)]
