-- Ledger postings, one round trip each (DESIGN §4). Only wallet/services.py calls these.
--
-- Lock order: a hold row before account rows; account rows in ascending id order (each leg's
-- UPDATE takes its row lock, and legs are applied sorted by account id). Hot accounts are
-- never updated, so never locked: their balance is the sum of their entries.
--
-- Errors carry SQLSTATEs of class WL, mapped to application errors by the service:
--   WL001 insufficient funds      WL002 account frozen         WL003 idempotency conflict
--   WL004 hold not pending        WL005 invalid posting        WL006 capture exceeds hold

CREATE OR REPLACE FUNCTION wallet_apply_legs(
    p_transfer_id bigint,
    p_at timestamptz,
    p_accounts bigint[],
    p_amounts numeric[],
    p_release_account bigint DEFAULT NULL,
    p_release_amount numeric DEFAULT 0
) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    leg record;
    v_found int;
    v_currencies int;
    v_release numeric;
    v_balance numeric;
    v_status text;
BEGIN
    SELECT count(*), count(DISTINCT a.currency) INTO v_found, v_currencies
      FROM wallet_account a WHERE a.id = ANY (p_accounts);
    IF v_found <> cardinality(p_accounts) THEN
        RAISE EXCEPTION USING ERRCODE = 'WL005', MESSAGE = 'unknown account in posting';
    END IF;
    IF v_currencies > 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'WL005', MESSAGE = 'a transfer cannot mix currencies';
    END IF;

    FOR leg IN
        SELECT l.account_id, l.amount, a.is_hot, a.status
          FROM unnest(p_accounts, p_amounts) AS l (account_id, amount)
          JOIN wallet_account a ON a.id = l.account_id
         ORDER BY l.account_id
    LOOP
        IF leg.is_hot THEN
            IF leg.amount < 0 AND leg.status <> 'active' THEN
                RAISE EXCEPTION USING ERRCODE = 'WL002',
                    MESSAGE = format('account %s is frozen', leg.account_id);
            END IF;
            v_balance := NULL;
        ELSE
            v_release := CASE WHEN leg.account_id = p_release_account THEN p_release_amount ELSE 0 END;
            -- A debit that releases a hold was authorised when the hold was placed, so it
            -- is allowed even if the account was frozen since.
            UPDATE wallet_account
               SET balance = balance + leg.amount,
                   held = held - v_release,
                   updated_at = p_at
             WHERE id = leg.account_id
               AND (leg.amount >= 0 OR v_release > 0 OR status = 'active')
               AND (allow_negative OR balance + leg.amount - (held - v_release) >= 0)
            RETURNING balance INTO v_balance;
            IF NOT FOUND THEN
                SELECT a.status INTO v_status FROM wallet_account a WHERE a.id = leg.account_id;
                IF v_status <> 'active' THEN
                    RAISE EXCEPTION USING ERRCODE = 'WL002',
                        MESSAGE = format('account %s is frozen', leg.account_id);
                END IF;
                RAISE EXCEPTION USING ERRCODE = 'WL001',
                    MESSAGE = format('insufficient funds on account %s', leg.account_id);
            END IF;
        END IF;
        INSERT INTO wallet_entry (transfer_id, account_id, amount, balance_after, created_at)
        VALUES (p_transfer_id, leg.account_id, leg.amount, v_balance, p_at);
    END LOOP;
END
$$;


CREATE OR REPLACE FUNCTION wallet_transfer_post(
    p_key text,
    p_fingerprint text,
    p_kind text,
    p_memo text,
    p_reference text,
    p_accounts bigint[],
    p_amounts numeric[]
) RETURNS TABLE (o_transfer_id bigint, o_created_at timestamptz, o_replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
    v_at timestamptz := now();
    v_fingerprint text;
BEGIN
    INSERT INTO wallet_transfer AS t (idempotency_key, fingerprint, kind, memo, reference, created_at)
    VALUES (p_key, p_fingerprint, p_kind, p_memo, p_reference, v_at)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING t.id INTO v_id;

    IF v_id IS NULL THEN
        SELECT t.id, t.created_at, t.fingerprint INTO v_id, v_at, v_fingerprint
          FROM wallet_transfer t WHERE t.idempotency_key = p_key;
        IF v_fingerprint <> p_fingerprint THEN
            RAISE EXCEPTION USING ERRCODE = 'WL003',
                MESSAGE = format('idempotency key %s was used for a different transfer', p_key);
        END IF;
        RETURN QUERY SELECT v_id, v_at, true;
        RETURN;
    END IF;

    PERFORM wallet_apply_legs(v_id, v_at, p_accounts, p_amounts);
    RETURN QUERY SELECT v_id, v_at, false;
END
$$;


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
        IF v_account.is_hot THEN
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


CREATE OR REPLACE FUNCTION wallet_hold_capture(
    p_hold_id bigint,
    p_key text,
    p_fingerprint text,
    p_kind text,
    p_memo text,
    p_accounts bigint[],
    p_amounts numeric[]
) RETURNS TABLE (o_transfer_id bigint, o_created_at timestamptz, o_replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_hold wallet_hold%ROWTYPE;
    v_total numeric;
    v_id bigint;
    v_at timestamptz := now();
    v_fingerprint text;
BEGIN
    SELECT * INTO v_hold FROM wallet_hold h WHERE h.id = p_hold_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'WL005', MESSAGE = format('unknown hold %s', p_hold_id);
    END IF;
    IF v_hold.status = 'captured' THEN
        SELECT t.id, t.created_at, t.fingerprint INTO v_id, v_at, v_fingerprint
          FROM wallet_transfer t WHERE t.id = v_hold.capture_transfer_id;
        IF v_fingerprint <> p_fingerprint THEN
            RAISE EXCEPTION USING ERRCODE = 'WL003',
                MESSAGE = format('hold %s was captured differently', p_hold_id);
        END IF;
        RETURN QUERY SELECT v_id, v_at, true;
        RETURN;
    ELSIF v_hold.status <> 'pending' THEN
        RAISE EXCEPTION USING ERRCODE = 'WL004',
            MESSAGE = format('hold %s is %s', p_hold_id, v_hold.status);
    END IF;

    SELECT sum(a) INTO v_total FROM unnest(p_amounts) AS a;
    IF v_total > v_hold.amount THEN
        RAISE EXCEPTION USING ERRCODE = 'WL006',
            MESSAGE = format('capture of %s exceeds hold %s of %s', v_total, p_hold_id, v_hold.amount);
    END IF;

    INSERT INTO wallet_transfer AS t (idempotency_key, fingerprint, kind, memo, reference, created_at)
    VALUES (p_key, p_fingerprint, p_kind, p_memo, v_hold.reference, v_at)
    RETURNING t.id INTO v_id;

    -- The captured amount leaves the account; the whole hold stops being held, so a partial
    -- capture releases the remainder.
    PERFORM wallet_apply_legs(
        v_id, v_at,
        array_prepend(v_hold.account_id, p_accounts),
        array_prepend(-v_total, p_amounts),
        v_hold.account_id, v_hold.amount
    );
    UPDATE wallet_hold
       SET status = 'captured', capture_transfer_id = v_id, resolved_at = v_at
     WHERE id = p_hold_id;
    RETURN QUERY SELECT v_id, v_at, false;
END
$$;


CREATE OR REPLACE FUNCTION wallet_hold_release(
    p_hold_id bigint
) RETURNS TABLE (o_resolved_at timestamptz, o_replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_hold wallet_hold%ROWTYPE;
    v_at timestamptz := now();
BEGIN
    SELECT * INTO v_hold FROM wallet_hold h WHERE h.id = p_hold_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'WL005', MESSAGE = format('unknown hold %s', p_hold_id);
    END IF;
    IF v_hold.status = 'released' THEN
        RETURN QUERY SELECT v_hold.resolved_at, true;
        RETURN;
    ELSIF v_hold.status <> 'pending' THEN
        RAISE EXCEPTION USING ERRCODE = 'WL004',
            MESSAGE = format('hold %s is %s', p_hold_id, v_hold.status);
    END IF;
    UPDATE wallet_account SET held = held - v_hold.amount, updated_at = v_at WHERE id = v_hold.account_id;
    UPDATE wallet_hold SET status = 'released', resolved_at = v_at WHERE id = p_hold_id;
    RETURN QUERY SELECT v_at, false;
END
$$;
