/**
 * Tool schemas as JSON Schema (placeholder until the anyOf normaliser lands).
 *
 * @module
 */
import { z } from "zod";

/** Converts a zod schema to the JSON Schema draft the SDK client validates with. */
export function toolJsonSchema(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: "draft-7", io }) as Record<
    string,
    unknown
  >;
  return rest;
}
