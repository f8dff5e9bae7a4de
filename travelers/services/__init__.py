"""Writes and rules about travelers, one module per topic; other code imports from here."""

from travelers.services.auth import (
    SignInResult,
    TokenPair,
    code_hash,
    otp_request,
    session_revoke,
    sign_in,
    token_pair_issue,
    token_refresh,
)
from travelers.services.devices import (
    DEACTIVATED_BY_PROVIDER,
    device_attach,
    device_detach,
    device_register,
    device_token_hash,
    device_token_is_dead,
    device_unregister,
    devices_deactivate_dead,
)
from travelers.services.personal_data import (
    EXPORT_CONTRIBUTORS,
    PERSONAL_DATA_FIELDS,
    PersonalDataSpec,
    export_contributor_register,
    export_rows,
    personal_data_register,
    traveler_erase,
    traveler_export,
)
from travelers.services.profile import traveler_profile_update
from travelers.services.retention import PurgeResult, retention_purge
from travelers.services.trips import CompanionInput, LegInput, trip_delete, trip_register, trip_update

__all__ = [
    "DEACTIVATED_BY_PROVIDER",
    "EXPORT_CONTRIBUTORS",
    "PERSONAL_DATA_FIELDS",
    "CompanionInput",
    "LegInput",
    "PersonalDataSpec",
    "PurgeResult",
    "SignInResult",
    "TokenPair",
    "code_hash",
    "device_attach",
    "device_detach",
    "device_register",
    "device_token_hash",
    "device_token_is_dead",
    "device_unregister",
    "devices_deactivate_dead",
    "export_contributor_register",
    "export_rows",
    "otp_request",
    "personal_data_register",
    "retention_purge",
    "session_revoke",
    "sign_in",
    "token_pair_issue",
    "token_refresh",
    "traveler_erase",
    "traveler_export",
    "traveler_profile_update",
    "trip_delete",
    "trip_register",
    "trip_update",
]
