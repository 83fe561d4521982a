// Text and integers as the database stores them, checked once at the schema (every request schema
// built from core/spec uses these), so bad input answers 400 naming the field instead of failing in
// the driver: Postgres text cannot hold NUL characters, UTF-8 cannot encode an unpaired UTF-16
// surrogate, and an `Int` column holds 32-bit signed integers.
import { type StringOptions, Type } from '@sinclair/typebox';

/**
 * Any text without NUL and without unpaired surrogates. Written to mean the same with and without
 * the regular expression `u` flag (Ajv compiles patterns with it, TypeBox's compiler without): a
 * surrogate pair is one astral character (u) or a high + low surrogate (no u); a lone surrogate
 * matches neither branch.
 */
export const TEXT_PATTERN = '^(?:[^\\u0000\\uD800-\\uDFFF]|[\\uD800-\\uDBFF][\\uDC00-\\uDFFF])*$';
export const TEXT_MESSAGE = 'must not contain NUL characters or unpaired UTF-16 surrogates';

/** A string that Postgres can store (see TEXT_PATTERN). */
export const Text = (options: StringOptions = {}) => Type.String({ pattern: TEXT_PATTERN, ...options });

/** The largest value of a Postgres `integer` (Prisma `Int`) column. */
export const INT32_MAX = 2 ** 31 - 1;
