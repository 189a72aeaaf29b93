-- v2: wallet_hold_place names an unknown account (WL005) instead of reporting insufficient
-- funds. Django's foreign keys are deferred, so the hold insert itself does not catch it.
-- Everything else stays as in ledger_functions_v1.sql.

CREATE OR REPLACE FUNCTION wallet_hold_place(
    p_key text,
    p_account bigint,
    p_amount numeric,
    p_reference text
) RETURNS TABLE (o_hold_id bigint, o_created_at timestamptz, o_status text, o_replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
    v_at timestamptz := now();
    v_hold wallet_hold%ROWTYPE;
    v_account record;
BEGIN
    INSERT INTO wallet_hold AS h (idempotency_key, account_id, amount, status, reference, created_at)
    VALUES (p_key, p_account, p_amount, 'pending', p_reference, v_at)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING h.id INTO v_id;

    IF v_id IS NULL THEN
        SELECT * INTO v_hold FROM wallet_hold h WHERE h.idempotency_key = p_key;
        IF v_hold.account_id <> p_account OR v_hold.amount <> p_amount OR v_hold.reference <> p_reference THEN
            RAISE EXCEPTION USING ERRCODE = 'WL003',
                MESSAGE = format('idempotency key %s was used for a different hold', p_key);
        END IF;
        RETURN QUERY SELECT v_hold.id, v_hold.created_at, v_hold.status::text, true;
        RETURN;
    END IF;

    UPDATE wallet_account
       SET held = held + p_amount, updated_at = v_at
     WHERE id = p_account
       AND status = 'active'
       AND NOT is_hot
       AND (allow_negative OR balance - held - p_amount >= 0);
    IF NOT FOUND THEN
        SELECT a.status, a.is_hot INTO v_account FROM wallet_account a WHERE a.id = p_account;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'WL005', MESSAGE = format('unknown account %s', p_account);
        ELSIF v_account.is_hot THEN
            RAISE EXCEPTION USING ERRCODE = 'WL005', MESSAGE = 'a hot account cannot hold money';
        ELSIF v_account.status <> 'active' THEN
            RAISE EXCEPTION USING ERRCODE = 'WL002', MESSAGE = format('account %s is frozen', p_account);
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'WL001',
            MESSAGE = format('insufficient funds on account %s', p_account);
    END IF;
    RETURN QUERY SELECT v_id, v_at, 'pending'::text, false;
END
$$;
