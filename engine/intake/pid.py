"""The patient's identity in an HL7 v2 message: PID-3 identifiers, PID-5/7/8, PID-32.

PAM-FR puts the INS in PID-3 with its OID as assigning authority
(``…^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS``) next to the
facility's own identifier (IPP, ``^PI``), and the identity reliability status
in PID-32 (``PROV``, ``RECUP``, ``VALI``, ``QUAL``).
"""

from __future__ import annotations

from engine.intake.exceptions import RefusedMessage
from engine.intake.hl7v2 import Message, birth_date
from engine.intake.model import IDENTITY_STATUSES, Identifier, Identity

SEXES = {"F": "F", "M": "M"}


def identity(message: Message) -> Identity:
    """The PID segment as an ``Identity``; refused when it has no usable identifier."""
    message.require("PID")
    identifiers = []
    for r in range(1, message.repeats("PID", 3) + 1):
        value = message.get("PID", 3, r, 1)
        system = message.get("PID", 3, r, 4, 2) or message.get("PID", 3, r, 4, 1)
        if value and system:
            identifiers.append(Identifier(value, system, message.get("PID", 3, r, 5)))
    if not identifiers:
        raise RefusedMessage("PID-3 ne contient aucun identifiant avec son autorité "
                             "d'affectation (INS avec son OID, ou IPP de l'établissement)",
                             "PID", 3)
    status = next((s for r in range(1, message.repeats("PID", 32) + 1)
                   if (s := message.get("PID", 32, r).upper())), None)
    if status and status not in IDENTITY_STATUSES:
        raise RefusedMessage(f"PID-32 : statut d'identité inconnu {status!r} ; possibles : "
                             f"{', '.join(IDENTITY_STATUSES)}", "PID", 32)
    return Identity(identifiers=identifiers, status=status,
                    family_name=message.get("PID", 5, 1, 1),
                    given_names=message.get("PID", 5, 1, 2),
                    birth_date=birth_date(message.get("PID", 7)),
                    sex=SEXES.get(message.get("PID", 8).upper(), "U"))
