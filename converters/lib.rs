//! Converters: Kafka Connect values to bytes and back.
