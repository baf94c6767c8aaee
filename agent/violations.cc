// Placeholder: being written this session.
