"""`providers`: the production backend. Android and web devices go to FCM, iOS devices to APNs.

Both halves of a batch are sent at the same time on the process's push loop; results come back in the
order of the messages.
"""

from __future__ import annotations

import asyncio

from core.push import PushMessage, PushResult, PushStatus
from core.push.backends.apns import APNsBackend
from core.push.backends.base import BasePushBackend
from core.push.backends.fcm import FCMBackend
from core.push.backends.http2 import run


class ProviderRouterBackend(BasePushBackend):
    def __init__(self) -> None:
        self.fcm = FCMBackend()
        self.apns = APNsBackend()

    def send_batch(self, messages: list[PushMessage]) -> list[PushResult]:
        if not messages:
            return []
        return run(self.send_batch_async(messages))

    async def send_batch_async(self, messages: list[PushMessage]) -> list[PushResult]:
        to_fcm = [i for i, m in enumerate(messages) if m.platform in ("android", "web")]
        to_apns = [i for i, m in enumerate(messages) if m.platform == "ios"]
        results: list[PushResult] = [
            PushResult(PushStatus.FAILED, error=f"unknown platform {m.platform!r}") for m in messages
        ]
        jobs, groups = [], []
        if to_fcm:
            jobs.append(self.fcm.send_batch_async([messages[i] for i in to_fcm]))
            groups.append(to_fcm)
        if to_apns:
            jobs.append(self.apns.send_batch_async([messages[i] for i in to_apns]))
            groups.append(to_apns)
        for indexes, answers in zip(groups, await asyncio.gather(*jobs), strict=True):
            for i, answer in zip(indexes, answers, strict=True):
                results[i] = answer
        return results

    def close(self) -> None:
        self.fcm.close()
        self.apns.close()
