"""The store's write paths and the table stream on DynamoDB Local (a package: its engine lives as long as its tests)."""
