"""The FHIR R4 REST interface of Parcours, under ``/fhir`` in the web application.

::

    POST /fhir/auth/token            OAuth2 client credentials → Bearer token (auth.py)
    GET  /fhir/metadata              CapabilityStatement (capability.py)
    POST /fhir                       Bundle (transaction or collection) → inbox (intake.py)
    POST /fhir/Patient|Observation|Encounter        one resource → inbox
    GET  /fhir/Patient/{id}                         INS, OID, identity reliability
    GET  /fhir/CarePlan?patient=… , /CarePlan/{id}  one per case (read.py, resources.py)
    GET  /fhir/CareTeam?patient=…                   RPPS of each member, roles
    GET  /fhir/Task?patient=… , /Task/{id}          statuses, owners, pathway step

JSON only (``application/fhir+json``); every error an ``OperationOutcome`` (errors.py).
Systems are registered with ``parcours fhir clients add`` (``engine.store.fhir_clients``).
Like the rest of ``web/``, nothing here imports Prefect or ``flows/``: what is posted is
stored in the inbox, and the ``process-inbound-events`` flow applies it.
"""
