/*
 * dynox/dynox.h - libdynox, everything in one include.
 *
 * libdynox is a model/CRUD library for Amazon DynamoDB: typed models with
 * keys, defaults and hooks (model.h, item.h), a DynamoDB value model and
 * codec (value.h, codec.h, size.h), expressions (expr.h), and clients over
 * two backends behind one interface (client.h): memory (mem.h) and
 * DynamoDB's JSON protocol over HTTPS.
 *
 * The library never prints, never exits, and reads the environment only
 * through explicit calls that say so.
 */
#ifndef DYNOX_DYNOX_H
#define DYNOX_DYNOX_H

#include "util.h"
#include "error.h"
#include "value.h"
#include "codec.h"
#include "size.h"
#include "expr.h"
#include "client.h"
#include "mem.h"
#include "model.h"
#include "item.h"
#include "sigv4.h"
#include "creds.h"
#include "http.h"
#include "ddb.h"

#define DYNOX_VERSION "0.1.0"

#endif
