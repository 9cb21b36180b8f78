"""dynsync: sync contacts' mobile numbers from Dynamics 365 (Dataverse) into Dotdigital."""

__version__ = "0.1.0"
