-- What the API derives from model_metadata (capabilities, limits, pricing) is computed
-- by PostgreSQL when a row is written, so that reading a page of entries needs
-- neither the JSON document nor its parsing. The rules are those of SPEC §3:
-- a capability is a `supports_<name>` key whose value is JSON true, sorted by name;
-- token limits are integers from 0 to 2^31 - 1; prices are numbers >= 0. Anything
-- else reads as absent (null).

-- A JSON array rather than TEXT[]: clients parse JSON natively, arrays character by
-- character.
CREATE FUNCTION "catalog_capabilities"(metadata JSONB) RETURNS JSONB
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT COALESCE(jsonb_agg(substr(key, 10) ORDER BY substr(key, 10) COLLATE "C"), '[]')
  FROM jsonb_each(metadata)
  WHERE starts_with(key, 'supports_') AND value = 'true'::jsonb
$$;

-- Nested CASEs: the cast runs only on JSON numbers (AND does not fix an order).
CREATE FUNCTION "catalog_token_count"(value JSONB) RETURNS INTEGER
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT CASE WHEN jsonb_typeof(value) = 'number' THEN
    CASE WHEN value::numeric BETWEEN 0 AND 2147483647 AND value::numeric = trunc(value::numeric)
      THEN value::numeric::integer END
  END
$$;

-- Bounded so the conversion to double precision can neither overflow nor underflow.
CREATE FUNCTION "catalog_price"(value JSONB) RETURNS DOUBLE PRECISION
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT CASE WHEN jsonb_typeof(value) = 'number' THEN
    CASE WHEN value::numeric = 0 OR value::numeric BETWEEN 1e-300 AND 1e300
      THEN value::numeric::double precision END
  END
$$;

ALTER TABLE "agent_catalog"
  ADD COLUMN "capabilities" JSONB NOT NULL
    GENERATED ALWAYS AS (catalog_capabilities("model_metadata")) STORED,
  ADD COLUMN "max_input_tokens" INTEGER
    GENERATED ALWAYS AS (catalog_token_count("model_metadata" -> 'max_input_tokens')) STORED,
  ADD COLUMN "max_output_tokens" INTEGER
    GENERATED ALWAYS AS (catalog_token_count("model_metadata" -> 'max_output_tokens')) STORED,
  ADD COLUMN "input_cost_per_token" DOUBLE PRECISION
    GENERATED ALWAYS AS (catalog_price("model_metadata" -> 'input_cost_per_token')) STORED,
  ADD COLUMN "output_cost_per_token" DOUBLE PRECISION
    GENERATED ALWAYS AS (catalog_price("model_metadata" -> 'output_cost_per_token')) STORED;
