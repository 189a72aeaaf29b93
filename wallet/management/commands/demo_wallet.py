"""Demo money between users for `make run` (docs/WALLET.md): a transfer from alice to bob, a red
packet alice sent to the family group with one share grabbed by bob, a campaign whose rewards to
bob and carol wait for the worker to credit them, and an open receive code of carol's.

Runs after `demo_users` and `demo_payments` within `demo_data` and changes nothing the second time: every money
movement has a fixed idempotency key and every row is fetched or created.
"""

from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.utils import timezone
from rest_framework.authtoken.models import Token

from wallet import errors
from wallet.campaigns import services as campaigns
from wallet.campaigns.models import Campaign
from wallet.models import ReceiveCode
from wallet.redpackets import services as redpackets
from wallet.redpackets.models import ChatGroup, ChatGroupMember
from wallet.transfers import codes
from wallet.transfers import services as transfers

CAMPAIGN = "spring-festival"
REWARDS = {"bob": Decimal("8.88"), "carol": Decimal("1.23")}


class Command(BaseCommand):
    help = "Create or refresh the demo transfer, red packet, campaign rewards and receive code."

    def handle(self, *args, **options):
        users = {
            user.username: user
            for user in get_user_model().objects.filter(username__in=["alice", "bob", "carol", "admin"])
        }
        alice, bob, carol = users["alice"], users["bob"], users["carol"]
        transfers.transfer_send(
            sender=alice, recipient=bob, amount=Decimal("20.00"), memo="Lunch", idempotency_key="demo-lunch"
        )
        packet = self._red_packet(alice, bob, carol)
        service_token = self._campaign(users["admin"])
        code = self._receive_code(carol)
        self.stdout.write(
            "\n".join(
                [
                    "Demo wallet: alice sent bob 20.00;",
                    f"  red packet {packet} in the group 'family': bob grabbed a share, alice and carol may still",
                    "  grab (POST /api/v1/red-packets/<packet_no>/grab/);",
                    f"  campaign '{CAMPAIGN}' rewards bob and carol (credited by the worker within a minute,",
                    "  or at once by POST /api/v1/wallet/rewards/settle/);",
                    f"  campaign service `campaign-svc` token {service_token} (POST /api/v1/campaign/rewards/);",
                    f"  carol's receive code (pay it: POST /api/v1/transfers/ with receive_code and amount): {code}",
                ]
            )
        )

    def _red_packet(self, alice, bob, carol) -> str:
        family, _ = ChatGroup.objects.get_or_create(name="family", owner=alice)
        for member in (alice, bob, carol):
            ChatGroupMember.objects.get_or_create(group=family, user=member)
        packet = redpackets.redpacket_send(
            sender=alice,
            amount=Decimal("8.88"),
            count=3,
            mode="lucky",
            group=family,
            greeting="恭喜发财 Happy New Year",
            idempotency_key="demo-packet",
        ).packet
        try:
            redpackets.redpacket_grab(packet=packet, user=bob)
        except errors.ApplicationError as refused:
            # A demo started again after the packet's 24 h ends with its remainder refunded.
            self.stdout.write(f"Demo red packet {packet.packet_no}: {refused.message}")
        return packet.packet_no

    def _campaign(self, admin) -> str:
        now = timezone.now()
        if not Campaign.objects.filter(name=CAMPAIGN).exists():
            campaigns.campaign_create(
                name=CAMPAIGN,
                title="Spring Festival red packet rain",
                budget_amount=Decimal("10000.00"),
                starts_at=now - timedelta(days=1),
                ends_at=now + timedelta(days=60),
                actor=admin,
            )
        service, _ = get_user_model().objects.get_or_create(username="campaign-svc")
        service.groups.add(Group.objects.get_or_create(name="reward_service")[0])
        for username, amount in REWARDS.items():
            try:
                campaigns.reward_accept(
                    campaign_name=CAMPAIGN,
                    user=get_user_model().objects.get(username=username),
                    amount=amount,
                    token=f"demo-reward-{username}-1",
                )
            except errors.ApplicationError as refused:
                # A demo started again after the campaign's window ends.
                self.stdout.write(f"Demo reward for {username}: {refused.message}")
        return Token.objects.get_or_create(user=service)[0].key

    def _receive_code(self, carol) -> str:
        code = (
            ReceiveCode.objects.filter(owner=carol, revoked_at__isnull=True, expires_at__gt=timezone.now())
            .order_by("-expires_at")
            .first()
        )
        if code is None:
            code = transfers.receive_code_create(
                owner=carol, amount=None, single_use=False, memo="Carol's tea stall", expires_in=codes.MAX_EXPIRY
            )
        return codes.token_for(code)
