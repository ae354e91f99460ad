import { IdentifierNode, OperationNodeTransformer } from 'kysely'
import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryId,
  QueryResult,
  RootOperationNode,
  TableNode,
  UnknownRow
} from 'kysely'

/**
 * Prefixes the name of every table a query mentions, so the store's queries can be written (and type
 * checked) against `OAuth2Tables` while running against `oauth2_users` and the like. It renames every
 * table reference, aliases included, so the store's queries use no table aliases.
 */
export class TablePrefixPlugin implements KyselyPlugin {
  readonly #transformer: TablePrefixTransformer

  constructor (prefix: string) {
    this.#transformer = new TablePrefixTransformer(prefix)
  }

  transformQuery (args: PluginTransformQueryArgs): RootOperationNode {
    return this.#transformer.transformNode(args.node, args.queryId)
  }

  async transformResult (args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result
  }
}

class TablePrefixTransformer extends OperationNodeTransformer {
  readonly #prefix: string

  constructor (prefix: string) {
    super()
    this.#prefix = prefix
  }

  protected override transformTable (node: TableNode, queryId?: QueryId): TableNode {
    const transformed = super.transformTable(node, queryId)
    const identifier = IdentifierNode.create(this.#prefix + transformed.table.identifier.name)
    return { ...transformed, table: { ...transformed.table, identifier } }
  }
}
