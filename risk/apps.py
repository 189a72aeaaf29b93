from django.apps import AppConfig


class RiskConfig(AppConfig):
    name = "risk"

    def ready(self) -> None:
        from risk.transfers import RiskTransferGuard
        from wallet.transfers import guards

        guards.guard_register(RiskTransferGuard())
