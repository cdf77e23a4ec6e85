"""The intake layer: external messages (HL7 v2, FHIR R4) turned into the engine's events.

Parsers and mappings only, no database code: ``engine.store.intake`` matches
the patient and stores what these modules produce in the durable inbox (the
single door), and the ``process-inbound-events`` flow applies it.

- ``model``      what a message becomes: the patient's identity and inbound events
- ``hl7v2``      decoding (MSH-18) and parsing of HL7 v2 messages (python-hl7)
- ``adt``        HL7 v2.5 ADT following IHE PAM and its French extension PAM-FR
- ``oru``        HL7 v2 ORU^R01 laboratory results
- ``codes``      the one place where external codes meet the engine's vocabulary
                 (trigger events → hospital events, LOINC codes and units)
- ``ack``        HL7 acknowledgements (AA, AE, AR)
- ``mllp``       the MLLP listener and client (asyncio, python-hl7's framing)
- ``fhir``       FHIR R4 bundles and resources (``fhir.resources.R4B``)
"""
