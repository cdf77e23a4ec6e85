"""The vocabulary of outbox ``kind`` values: what the engine asks to be told to whom.

The engine writes outbox rows (``engine.store.writer``, ``engine.store.escalation``)
in the same transaction as the case change that implies them; ``notifications``
renders and sends them. The words are owned here, by the writer's side;
``notifications.kinds`` adds their French labels and templates.

- ``TASK_ASSIGNED`` / ``TASK_CANCELLED``: a task was created for / withdrawn from someone;
- ``TASK_REMINDER`` / ``TASK_OVERDUE``: written by the escalation sweep;
- ``PATHWAY_MESSAGE``: a pathway's ``notify`` action, or the template its author named
  (``HOSPITAL_ADMISSION``, ``HOSPITAL_DISCHARGE``);
- ``TASK_DECLINED``: a professional declined a task (``engine.store.task_actions``); to the
  coordinator, who can reassign it;
- ``DAILY_DIGEST`` / ``DELIVERY_FAILURE``: written by ``notifications`` itself;
- ``SIGN_IN_LINK``: a one-time link to the web workspace, sent at once by ``web.auth`` and
  never stored in the outbox (the link is a secret; it is the message's ``payload["link"]``).
"""

from __future__ import annotations

TASK_ASSIGNED = "task_assigned"
TASK_REMINDER = "task_reminder"
TASK_OVERDUE = "task_overdue"
TASK_CANCELLED = "task_cancelled"
PATHWAY_MESSAGE = "pathway_message"
DAILY_DIGEST = "daily_digest"
DELIVERY_FAILURE = "delivery_failure"
TASK_DECLINED = "task_declined"
SIGN_IN_LINK = "sign_in_link"

#: Variants of ``PATHWAY_MESSAGE`` a pathway author may name in ``notify: template:``.
HOSPITAL_ADMISSION = "hospital_admission"
HOSPITAL_DISCHARGE = "hospital_discharge"

KINDS = (TASK_ASSIGNED, TASK_REMINDER, TASK_OVERDUE, TASK_CANCELLED, PATHWAY_MESSAGE,
         DAILY_DIGEST, DELIVERY_FAILURE, TASK_DECLINED, SIGN_IN_LINK)
PATHWAY_TEMPLATES = (PATHWAY_MESSAGE, HOSPITAL_ADMISSION, HOSPITAL_DISCHARGE)
TEMPLATES = (*KINDS, HOSPITAL_ADMISSION, HOSPITAL_DISCHARGE)

#: Kinds about one task: not sent once the task is closed (cancelled, completed…).
TASK_KINDS = (TASK_ASSIGNED, TASK_REMINDER, TASK_OVERDUE, TASK_CANCELLED)
#: Kinds whose message is moot once their task is closed.
OPEN_TASK_ONLY = (TASK_ASSIGNED, TASK_REMINDER, TASK_OVERDUE)
#: Kinds never held for a daily digest.
ALWAYS_IMMEDIATE = (DAILY_DIGEST, DELIVERY_FAILURE, SIGN_IN_LINK)
