// Typed failures of the agent layer; each message names what is wrong and what to do.

/** A checkpoint folder is not a usable Qwen3 checkpoint (bad config, missing or misshapen tensor). */
export class ModelFormatError extends Error {
  override name = 'ModelFormatError';
}

/** A checkpoint folder or file does not exist. */
export class ModelNotFoundError extends Error {
  override name = 'ModelNotFoundError';
}

/** A request to the model is malformed (token id out of range, empty prompt, bad option). */
export class InputError extends Error {
  override name = 'InputError';
}

/** A tokenizer.json or chat template is missing or malformed. */
export class TokenizerError extends Error {
  override name = 'TokenizerError';
}

/**
 * Fetching a model from the Hugging Face hub failed (unreachable endpoint, unknown or gated repo, corrupt transfer).
 */
export class ModelDownloadError extends Error {
  override name = 'ModelDownloadError';
}
